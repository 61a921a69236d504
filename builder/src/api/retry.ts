// A rate-limited answer (429) says when to come back in its Retry-After header, which the
// problem's own text only points at ("wait for the time given in Retry-After"). This turns
// the header into a sentence with the number of seconds.

/** Seconds to wait from a Retry-After value: delay-seconds or an HTTP date. */
export function retryAfterSeconds(header: string | null, now: number = Date.now()): number | null {
  if (!header) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text);
  // An HTTP date names its day and month ("Wed, 21 Oct 2026 07:28:00 GMT").
  if (!/[a-z]/i.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

export function rateLimitedDetail(seconds: number | null): string {
  if (seconds === null) return "Too many attempts. Wait a little, then try again.";
  if (seconds <= 1) return "Too many attempts. Try again in a second.";
  return `Too many attempts. Try again in ${seconds} seconds.`;
}
