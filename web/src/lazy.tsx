import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";

// A page whose code loads when it is first shown, so the pages a trader may never open
// (strategies, backtests) do not weigh on the first paint.
const RELOADED = "redfire.reloaded-for-chunk";

export function lazyPage(load: () => Promise<ComponentType>): ComponentType {
  let loaded: ComponentType | null = null;
  return function LazyPage() {
    const [Page, setPage] = useState<ComponentType | null>(() => loaded);
    const [failed, setFailed] = useState(false);
    useEffect(() => {
      if (loaded) return;
      load().then(
        (c) => {
          sessionStorage.removeItem(RELOADED);
          setPage(() => (loaded = c));
        },
        () => {
          // After a deploy the old build's chunks are gone: the new page has the new names.
          // Once only, so a chunk that is really missing does not reload forever.
          if (sessionStorage.getItem(RELOADED)) return setFailed(true);
          sessionStorage.setItem(RELOADED, "1");
          location.reload();
        },
      );
    }, []);
    if (Page) return <Page />;
    return <main class="page muted">{failed ? "This page could not load; reload to try again." : "Loading…"}</main>;
  };
}
