// Small, pure formatting helpers shared by the screens.

/** `a1b2c3d4…` for a long hex id. */
export function short(id: string, n = 8): string {
  return id.length > n ? `${id.slice(0, n)}…` : id;
}

/** "3 h 5 min", "2 days", "40 s": a duration in plain words. */
export function duration(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(s / 86400);
  return d === 1 ? '1 day' : `${d} days`;
}

/** "expires in 3 h" or "expired 5 min ago". */
export function timeLeft(expiresAt: number, now: number): string {
  return expiresAt > now
    ? `expires in ${duration(expiresAt - now)}`
    : `expired ${duration(now - expiresAt)} ago`;
}

/** "created 3 min ago". */
export function age(createdAt: number, now: number): string {
  return `created ${duration(now - createdAt)} ago`;
}

/** 1234567 → "1,234,567 sat". */
export function sats(n: number): string {
  return `${n.toLocaleString('en-US')} sat`;
}

/** Unix seconds → "2026-11-30 12:04 UTC". */
export function when(secs: number): string {
  return new Date(secs * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

export function nowSecs(): number {
  return Math.floor(Date.now() / 1000);
}
