// The bounded row lists of the log viewers (pure, unit-tested): the oldest rows are dropped in
// one splice, and search hits (indexes into the rows) are moved to stay on the same rows.

// Removes the rows beyond `max` from the front in one go and returns them (their elements are
// the caller's to remove). A shift() per row would make a long follow quadratic.
export function dropOldest<T>(rows: T[], max: number): T[] {
  return rows.length > max ? rows.splice(0, rows.length - max) : [];
}

// Hits after `removed` rows were dropped from the front: the dropped rows' hits go, the others
// move down; the current hit stays on its row, or is none (-1) when its row was dropped.
export function shiftHits(hits: readonly number[], current: number, removed: number): { hits: number[]; current: number } {
  if (removed <= 0) return { hits: [...hits], current };
  const row = current >= 0 && current < hits.length ? hits[current] : -1;
  const kept = hits.filter((i) => i >= removed).map((i) => i - removed);
  return { hits: kept, current: row >= removed ? kept.indexOf(row - removed) : -1 };
}
