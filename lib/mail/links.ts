// The links of an outbox message, for the console's outbox (no SMTP: an admin passes the link on).
// Only links to this console count: a message also carries text that users wrote (their name, in
// "Hello <name>,"), and a name holding https://evil.example/… must not become the button that an
// admin clicks or hands on as the invitation or reset link.

const URL_PATTERN = /(https?:\/\/[^\s<>"]+)/g;

const ownOrigin = (url: string, origin: string) => {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
};

/** The message split into text and links to `origin` (odd indexes are links; other URLs stay text). */
export function messageParts(body: string, origin: string): { text: string; link: boolean }[] {
  return body.split(URL_PATTERN).map((part, i) => ({ text: part, link: i % 2 === 1 && ownOrigin(part, origin) }));
}

/** The message's first link to `origin` (the invitation, reset or unlock link), or null. */
export function firstOwnLink(body: string, origin: string): string | null {
  return messageParts(body, origin).find((p) => p.link)?.text ?? null;
}
