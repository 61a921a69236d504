import { useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router-dom";
import type { Problem } from "../api/client";
import { BusyButton, ProblemText } from "../ui/feedback";
import { AuthCard } from "./AuthCard";
import { safeNext } from "./next";
import { useSession } from "./session";

export function SignInPage() {
  const { session, signIn } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  if (session.status === "signed-in" && !busy) return <Navigate to={next} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await signIn(email, password);
    setBusy(false);
    if (result.ok) navigate(next, { replace: true });
    else setProblem(result.problem);
  }

  return (
    <AuthCard title="Sign in">
      <form onSubmit={submit} className="stack" aria-describedby="signin-problem">
        <label>
          Email
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </label>
        <label>
          Password
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <ProblemText problem={problem} id="signin-problem" />
        <BusyButton type="submit" className="primary" busy={busy}>
          Sign in
        </BusyButton>
      </form>
      <p className="aside">
        <Link to="/reset">Forgot your password?</Link>
      </p>
    </AuthCard>
  );
}
