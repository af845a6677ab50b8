// Whether the browser shows the page. A page in a background tab (or a minimised window) polls
// nothing and holds no event stream: it catches up from where it stopped when shown again.
// Outside a browser (the unit tests) the page counts as always visible.

export function pageVisible(): boolean {
  return typeof document === "undefined" || document.visibilityState !== "hidden";
}

// Calls `cb` whenever the page is shown or hidden; returns the unsubscribe.
export function onPageVisibility(cb: (visible: boolean) => void): () => void {
  if (typeof document === "undefined") return () => undefined;
  const handler = () => cb(pageVisible());
  document.addEventListener("visibilitychange", handler);
  return () => document.removeEventListener("visibilitychange", handler);
}
