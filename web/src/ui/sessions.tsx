import { useEffect, useState } from "preact/hooks";
import type { z } from "zod";
import type { Session } from "../../../shared/schemas/identity";
import { api, messageOf, signOut } from "../api";
import { clientName } from "../client-name";

// The user's sign-ins, each ended on its own: a browser left signed in elsewhere is ended
// here without changing the password (DELETE /api/sessions/{id}).
type SessionView = z.infer<typeof Session>;

const when = (iso: string) => new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short", hour12: false });

export function SessionsPanel() {
  const [sessions, setSessions] = useState<SessionView[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const load = () => api<SessionView[]>("GET", "/api/sessions").then(setSessions, (e: unknown) => setProblem(messageOf(e, "Could not load sessions.")));
  useEffect(() => void load(), []);

  async function end(s: SessionView) {
    if (s.current && !confirm("End this session? You will be signed out here.")) return;
    setProblem(null);
    try {
      await api("DELETE", `/api/sessions/${s.id}`);
      if (s.current) return void (await signOut());
      await load();
    } catch (e) {
      setProblem(messageOf(e, "The session could not be ended."));
    }
  }

  return (
    <section class="panel">
      <h2>Signed-in sessions</h2>
      <p class="muted">Each sign-in stays open until it is ended or its refresh token expires. Ending one signs that browser or client out at once.</p>
      {problem && (
        <p class="form-error" role="alert">
          {problem}
        </p>
      )}
      {sessions === null ? (
        <p class="empty">Loading…</p>
      ) : (
        <div class="table-scroll">
        <table class="sessions" data-testid="sessions">
          <thead>
            <tr>
              <th>Client</th>
              <th>Signed in</th>
              <th class="secondary">Last refreshed</th>
              <th class="secondary">Expires</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.id} data-session={s.id}>
                <td class="user-agent" title={s.user_agent ?? undefined}>
                  {s.current && <strong>This session · </strong>}
                  {clientName(s.user_agent)}
                </td>
                <td>{when(s.created_at)}</td>
                <td class="secondary">{s.last_refreshed_at ? when(s.last_refreshed_at) : "—"}</td>
                <td class="secondary">{when(s.expires_at)}</td>
                <td class="actions">
                  <button onClick={() => void end(s)}>{s.current ? "Sign out" : "End"}</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}
