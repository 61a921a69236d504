import type { ReactNode } from "react";

/** The frame of the signed-out pages: the product name and one card. */
export function AuthCard({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="auth-page">
      <div className="auth-card">
        <p className="brand">Lathe</p>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}
