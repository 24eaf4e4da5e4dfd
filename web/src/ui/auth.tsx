import { useState } from "preact/hooks";
import { ApiError, session, signIn, signUp } from "../api";
import { useStore } from "../store";

// Sign in and sign up on one card; the server's refusals appear next to the field they
// name, or above the form when they concern the request as a whole.
export function AuthPage() {
  const [mode, setMode] = useState<"in" | "up">("in");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const value = (name: string) => String(form.get(name) ?? "");
    setBusy(true);
    setError(null);
    try {
      if (mode === "in") await signIn(value("email"), value("password"));
      else await signUp(value("email"), value("username"), value("password"));
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, "The server could not be reached. Check your connection and try again."));
    } finally {
      setBusy(false);
    }
  }

  const fieldError = (path: string) => {
    const message = error?.field(path);
    return message ? (
      <span class="field-error" id={`${path}-error`}>
        {message}
      </span>
    ) : null;
  };
  const general = error && (error.details.length === 0 || mode === "in") ? error.message : null;
  // A session ended from elsewhere says so (it dropped to this form without a word).
  const ended = useStore(session).ended;

  return (
    <main class="auth">
      <form class="card" onSubmit={(e) => void submit(e)} noValidate>
        <h1>RedFire</h1>
        <p class="muted">Paper trading on the edge</p>
        <div class="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={mode === "in"} onClick={() => (setMode("in"), setError(null))}>
            Sign in
          </button>
          <button type="button" role="tab" aria-selected={mode === "up"} onClick={() => (setMode("up"), setError(null))}>
            Sign up
          </button>
        </div>
        {general && (
          <p class="form-error" role="alert">
            {general}
          </p>
        )}
        {!general && ended && (
          <p class="notice" role="status" data-testid="session-ended">
            {ended}
          </p>
        )}
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required aria-describedby="email-error" />
          {fieldError("email")}
        </label>
        {mode === "up" && (
          <label>
            Username
            <input name="username" autoComplete="username" required aria-describedby="username-error" />
            {fieldError("username")}
          </label>
        )}
        <label>
          Password
          <input name="password" type="password" autoComplete={mode === "in" ? "current-password" : "new-password"} required aria-describedby="password-error" />
          {fieldError("password")}
        </label>
        {mode === "up" && <p class="muted small">At least 12 characters; not a common password, not your name or email.</p>}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "…" : mode === "in" ? "Sign in" : "Create account"}
        </button>
      </form>
    </main>
  );
}
