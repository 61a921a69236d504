// Accepting an invite from its emailed link (/accept-invite?token=… from the server, or
// /invite?token=…). Someone new to the instance also chooses a password; someone with an
// account accepts while signed in, or by signing in first.
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { api, call, type Problem } from "../api/client";
import { BusyButton, ProblemText } from "../ui/feedback";
import { AuthCard } from "./AuthCard";
import { localProblem, NewPasswordFields } from "./ResetPages";
import { useSession } from "./session";

export function InviteAcceptPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const { session, refresh } = useSession();
  const navigate = useNavigate();
  const signedIn = session.status === "signed-in";
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [joined, setJoined] = useState(false);
  const mismatch = !signedIn && repeat.length > 0 && repeat !== password;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (mismatch) return;
    setBusy(true);
    setProblem(null);
    const body = signedIn ? { token } : { token, password };
    const result = await call(api.POST("/api/v1/invites/accept", { body }));
    setBusy(false);
    if (!result.ok) {
      setProblem(result.problem);
      return;
    }
    setJoined(true);
    if (signedIn) {
      await refresh();
      navigate("/", { replace: true });
    }
  }

  if (!token) {
    return (
      <AuthCard title="Invite link incomplete">
        <p>This link has no invite token. Open the link from your invite email again.</p>
      </AuthCard>
    );
  }

  if (joined && !signedIn) {
    return (
      <AuthCard title="You have joined">
        <p>Your account is ready.</p>
        <p className="aside">
          <Link to="/signin">Sign in</Link>
        </p>
      </AuthCard>
    );
  }

  return (
    <AuthCard title="Accept your invite">
      <form onSubmit={submit} className="stack">
        {signedIn ? (
          <p>You will join the workspace as {session.me.user.email}.</p>
        ) : (
          <>
            <p>
              New to Lathe? Choose a password. Already have an account?{" "}
              <Link to={`/signin?next=${encodeURIComponent(`/invite?token=${token}`)}`}>Sign in first</Link>.
            </p>
            <NewPasswordFields password={password} setPassword={setPassword} repeat={repeat} setRepeat={setRepeat} />
          </>
        )}
        <ProblemText problem={mismatch ? localProblem("The two passwords differ.") : problem} />
        <BusyButton type="submit" className="primary" busy={busy} disabled={mismatch}>
          Accept invite
        </BusyButton>
      </form>
    </AuthCard>
  );
}
