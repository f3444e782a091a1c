import { describe, expect, it } from "vitest";
import { firstOwnLink, messageParts } from "./links";

describe("an outbox message's links", () => {
  const origin = "https://iam.example.com";
  const body = "Hello Eve https://evil.example/e/dev/reset/x,\n\nReset your password: https://iam.example.com/e/dev/reset/abc\n";

  it("the first link is the first to this console, not one a user's name carries", () => {
    expect(firstOwnLink(body, origin)).toBe("https://iam.example.com/e/dev/reset/abc");
    expect(firstOwnLink("Hello https://evil.example/x", origin)).toBeNull();
  });

  it("only links to this console are made clickable; the others stay text", () => {
    expect(messageParts(body, origin).filter((p) => p.link).map((p) => p.text)).toEqual(["https://iam.example.com/e/dev/reset/abc"]);
    expect(messageParts(body, origin).map((p) => p.text).join("")).toBe(body);
  });
});
