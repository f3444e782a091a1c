/** The client's address: the first hop of X-Forwarded-For (set by the proxy in front), else X-Real-IP. */
export function clientIp(header: (name: string) => string | null | undefined): string | undefined {
  const forwarded = header("x-forwarded-for");
  if (forwarded) return forwarded.split(",")[0]!.trim().slice(0, 64) || undefined;
  return header("x-real-ip")?.slice(0, 64) ?? undefined;
}
