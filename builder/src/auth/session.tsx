// Who is signed in. The session itself is an HttpOnly cookie the page can't read; the page
// asks `GET /auth/me` and keeps the answer, and drops it on sign-out or on any 401.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, call, onUnauthorized, type ApiResult, type Schemas } from "../api/client";

export type Me = Schemas["Me"];

type Session =
  | { status: "checking" }
  | { status: "signed-out" }
  | { status: "signed-in"; me: Me };

type SessionApi = {
  session: Session;
  signIn(email: string, password: string): Promise<ApiResult<Me>>;
  signOut(): Promise<ApiResult<unknown>>;
  refresh(): Promise<void>;
};

const SessionContext = createContext<SessionApi | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session>({ status: "checking" });

  const refresh = useCallback(async () => {
    const result = await call(api.GET("/api/v1/auth/me"));
    setSession(result.ok ? { status: "signed-in", me: result.data } : { status: "signed-out" });
  }, []);

  useEffect(() => {
    void refresh();
    return onUnauthorized(() => setSession({ status: "signed-out" }));
  }, [refresh]);

  const signIn = useCallback(async (email: string, password: string) => {
    const result = await call(api.POST("/api/v1/auth/login", { body: { email, password } }));
    if (result.ok) setSession({ status: "signed-in", me: result.data });
    return result;
  }, []);

  const signOut = useCallback(async () => {
    const result = await call(api.POST("/api/v1/auth/logout"));
    // Signed out either way: a 401 means the session had already ended.
    if (result.ok || result.problem.status === 401) setSession({ status: "signed-out" });
    return result;
  }, []);

  const value = useMemo(() => ({ session, signIn, signOut, refresh }), [session, signIn, signOut, refresh]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionApi {
  const context = useContext(SessionContext);
  if (!context) throw new Error("useSession outside SessionProvider");
  return context;
}

/** The signed-in user; only for pages behind RequireSession. */
export function useMe(): Me {
  const { session } = useSession();
  if (session.status !== "signed-in") throw new Error("useMe without a session");
  return session.me;
}
