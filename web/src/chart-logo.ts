// lightweight-charts draws its attribution (the TradingView logo its licence asks for) as a
// link inside every chart, in the tab order between the controls around the chart. To a
// keyboard it is a stop that leads off the platform in the middle of the trading flow,
// named only by its title. It stays visible and clickable; it just leaves the tab order.
// The library creates the link after the first layout and again whenever the panes
// change, so it is watched rather than fixed once.

/** Keeps the chart's attribution link in `box` out of the tab order; returns the stop function. */
export function attributionOutOfTabOrder(box: HTMLElement): () => void {
  const untab = () => box.querySelectorAll("a#tv-attr-logo:not([tabindex])").forEach((a) => a.setAttribute("tabindex", "-1"));
  untab();
  const watch = new MutationObserver(untab);
  watch.observe(box, { childList: true, subtree: true });
  return () => watch.disconnect();
}
