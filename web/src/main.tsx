import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { restoreSession, session, signOut } from "./api";
import { links, market, trades } from "./streams";
import { useStore } from "./store";
import { AdminPage } from "./ui/admin";
import { AuthPage } from "./ui/auth";
import { lazyPage } from "./lazy";
import { KeysPage } from "./ui/keys";
import { Bell } from "./ui/bell";
import { WebhooksPage } from "./ui/webhooks";
import { startNotifications, stopNotifications } from "./notifications";
import { Terminal } from "./ui/terminal";
import "./styles.css";

const StrategiesPage = lazyPage(() => import("./lab/strategies-page").then((m) => m.StrategiesPage));
const BacktestsPage = lazyPage(() => import("./lab/backtests-page").then((m) => m.BacktestsPage));
const DashboardPage = lazyPage(() => import("./ui/dashboard").then((m) => m.DashboardPage));

// Hash routes keep the app one static page with no server-side fallback to configure.
const ROUTES = ["trade", "strategies", "backtests", "keys", "webhooks", "admin", "dashboard"] as const;
type Route = (typeof ROUTES)[number];
const routeOf = (): Route => {
  const r = location.hash.replace(/^#\/?/, "");
  return (ROUTES as readonly string[]).includes(r) ? (r as Route) : "trade";
};

function Connection() {
  const state = useStore(links);
  const values = Object.values(state);
  const overall = values.length === 0 ? "down" : values.includes("down") ? "down" : values.includes("connecting") ? "connecting" : "open";
  const label = overall === "open" ? "Live" : overall === "connecting" ? "Connecting…" : "Reconnecting…";
  return (
    <span class={`link ${overall}`} role="status" aria-live="polite" data-testid="connection" data-state={overall} title={Object.entries(state).map(([k, v]) => `${k}: ${v}`).join(", ")}>
      <span class="dot" aria-hidden="true" />
      {label}
    </span>
  );
}

function App() {
  const { user, restoring } = useStore(session);
  const [route, setRoute] = useState<Route>(routeOf());
  useEffect(() => {
    const onHash = () => setRoute(routeOf());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  // trade_updates follow the session on every page; market data only where it is shown.
  useEffect(() => {
    if (user) {
      trades.start();
      startNotifications();
    } else {
      market.stop();
      trades.stop();
      stopNotifications();
    }
  }, [user]);

  if (restoring) return <div class="splash">RedFire</div>;
  if (!user) return <AuthPage />;
  const nav = (to: Route, label: string) => (
    <a href={`#/${to}`} aria-current={route === to ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <div class="shell">
      <header class="top">
        <span class="brand">RedFire</span>
        <nav>
          {nav("trade", "Trade")}
          {nav("strategies", "Strategies")}
          {nav("backtests", "Backtests")}
          {nav("keys", "API keys")}
          {nav("webhooks", "Webhooks")}
          {user.role === "admin" && nav("admin", "Admin")}
          {user.role === "admin" && nav("dashboard", "Dashboard")}
        </nav>
        <Connection />
        <Bell />
        <span class="who">{user.username}</span>
        <button class="ghost" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      {route === "trade" && <Terminal />}
      {route === "strategies" && <StrategiesPage />}
      {route === "backtests" && <BacktestsPage />}
      {route === "keys" && <KeysPage />}
      {route === "webhooks" && <WebhooksPage />}
      {route === "admin" && user.role === "admin" && <AdminPage />}
      {route === "dashboard" && user.role === "admin" && <DashboardPage />}
      {(route === "admin" || route === "dashboard") && user.role !== "admin" && (
        // A link kept from an admin's session, or typed: said, not an empty page (found in QA).
        <main class="page">
          <p class="empty" role="alert" data-testid="admins-only">
            This page is for admins; your role is {user.role}.
          </p>
        </main>
      )}
    </div>
  );
}

render(<App />, document.getElementById("app")!);
void restoreSession();
