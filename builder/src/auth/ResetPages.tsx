// Password reset: asking for a link by email, and setting the new password from the link.
// The server sends links to /reset-password?token=…; /reset?token=… works the same.
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, call, type Problem } from "../api/client";
import { BusyButton, ProblemText } from "../ui/feedback";
import { AuthCard } from "./AuthCard";

export function ResetPage() {
  const [params] = useSearchParams();
  const token = params.get("token");
  return token ? <ResetConfirm token={token} /> : <ResetRequest />;
}

function ResetRequest() {
  const [email, setEmail] = useState("");
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await call(api.POST("/api/v1/auth/reset", { body: { email } }));
    setBusy(false);
    if (result.ok) setSent(true);
    else setProblem(result.problem);
  }

  if (sent) {
    return (
      <AuthCard title="Check your email">
        <p>If an account uses that address, a link to set a new password is on its way. It works for 30 minutes.</p>
        <p className="aside">
          <Link to="/signin">Back to sign in</Link>
        </p>
      </AuthCard>
    );
  }

  return (
    <AuthCard title="Reset your password">
      <form onSubmit={submit} className="stack">
        <label>
          Email
          <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <ProblemText problem={problem} />
        <BusyButton type="submit" className="primary" busy={busy}>
          Send reset link
        </BusyButton>
      </form>
      <p className="aside">
        <Link to="/signin">Back to sign in</Link>
      </p>
    </AuthCard>
  );
}

function ResetConfirm({ token }: { token: string }) {
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const mismatch = repeat.length > 0 && repeat !== password;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (mismatch) return;
    setBusy(true);
    setProblem(null);
    const result = await call(
      api.POST("/api/v1/auth/reset/confirm", { body: { token, new_password: password } }),
    );
    setBusy(false);
    if (result.ok) setDone(true);
    else setProblem(result.problem);
  }

  if (done) {
    return (
      <AuthCard title="Password changed">
        <p>Your new password is set. Other sessions of your account were signed out.</p>
        <p className="aside">
          <Link to="/signin">Sign in</Link>
        </p>
      </AuthCard>
    );
  }

  return (
    <AuthCard title="Choose a new password">
      <form onSubmit={submit} className="stack">
        <NewPasswordFields password={password} setPassword={setPassword} repeat={repeat} setRepeat={setRepeat} />
        {/* The server answers 404 for an unknown, expired or used token, and says nothing more. */}
        {!mismatch && problem?.status === 404 ? (
          <p className="problem" role="alert" data-testid="reset-link-invalid">
            This reset link is invalid, expired or was already used. <Link to="/reset">Request a new link</Link>
          </p>
        ) : (
          <ProblemText problem={mismatch ? localProblem("The two passwords differ.") : problem} />
        )}
        <BusyButton type="submit" className="primary" busy={busy} disabled={mismatch}>
          Set password
        </BusyButton>
      </form>
    </AuthCard>
  );
}

/** A password and its repetition, with the server's length rule (8 to 128 characters). */
export function NewPasswordFields(props: {
  password: string;
  setPassword(value: string): void;
  repeat: string;
  setRepeat(value: string): void;
}) {
  return (
    <>
      <label>
        New password
        <input
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          maxLength={128}
          value={props.password}
          onChange={(e) => props.setPassword(e.target.value)}
        />
      </label>
      <label>
        Repeat the password
        <input
          type="password"
          autoComplete="new-password"
          required
          value={props.repeat}
          onChange={(e) => props.setRepeat(e.target.value)}
        />
      </label>
    </>
  );
}

/** A problem found before anything was sent, shown like the server's. */
export function localProblem(detail: string): Problem {
  return { type: "about:blank", title: detail, status: 0, detail };
}
