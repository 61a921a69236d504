// Accepting an invite from its emailed link (/accept-invite?token=… from the server, or
// /invite?token=…). The server takes the token alone and adds the address the invite was
// sent to, whoever is signed in, so the page never says the signed-in account joins. When that
// address has no account yet, the server asks for a password and the page offers the fields.
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, call, type Problem } from "../api/client";
import { BusyButton, ProblemText } from "../ui/feedback";
import { AuthCard } from "./AuthCard";
import { inviteProblemMessage, needsPassword } from "./invite";
import { localProblem, NewPasswordFields } from "./ResetPages";
import { useSession } from "./session";

export function InviteAcceptPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const { session, refresh } = useSession();
  const signedIn = session.status === "signed-in";
  // The password fields appear once the server said the invited address has no account.
  const [newAccount, setNewAccount] = useState(false);
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [joined, setJoined] = useState(false);
  const mismatch = newAccount && repeat.length > 0 && repeat !== password;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (mismatch) return;
    setBusy(true);
    setProblem(null);
    const body = newAccount ? { token, password } : { token };
    const result = await call(api.POST("/api/v1/invites/accept", { body }));
    if (!result.ok) {
      setBusy(false);
      if (!newAccount && needsPassword(result.problem)) setNewAccount(true);
      else setProblem(result.problem);
      return;
    }
    // The signed-in account may be the one that joined: its workspace list is read again.
    if (signedIn) await refresh();
    setBusy(false);
    setJoined(true);
  }

  if (!token) {
    return (
      <AuthCard title="Invite link incomplete">
        <p>This link has no invite token. Open the link from your invite email again.</p>
      </AuthCard>
    );
  }

  if (joined) {
    return (
      <AuthCard title="Invite accepted">
        <p data-testid="invite-accepted">The address this invite was sent to is now a member of the workspace.</p>
        {newAccount ? <p>Its account was created with the password you chose.</p> : null}
        <p className="aside">
          {signedIn ? <Link to="/">Go to your workspaces</Link> : <Link to="/signin">Sign in with the invited address</Link>}
        </p>
      </AuthCard>
    );
  }

  const shown = mismatch ? localProblem("The two passwords differ.") : problem;
  const message = shown ? inviteProblemMessage(shown) : null;
  return (
    <AuthCard title="Accept the invite">
      <form onSubmit={submit} className="stack">
        <p>Accepting makes the email address this invite was sent to a member of the workspace, with the role the invite names.</p>
        {signedIn ? (
          <p className="muted" data-testid="invite-signed-in">
            You are signed in as {session.me.user.email}. If the invite was sent to another address, that address joins, not
            your account.
          </p>
        ) : null}
        {newAccount ? (
          <>
            <p role="status">The invited address has no Lathe account yet. Choose a password for it.</p>
            <NewPasswordFields password={password} setPassword={setPassword} repeat={repeat} setRepeat={setRepeat} />
          </>
        ) : null}
        <ProblemText problem={shown && message ? { ...shown, detail: message } : shown} />
        <BusyButton type="submit" className="primary" busy={busy} disabled={mismatch}>
          {newAccount ? "Create the account and accept" : "Accept invite"}
        </BusyButton>
      </form>
    </AuthCard>
  );
}
