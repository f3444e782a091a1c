import { describe, expect, it } from "vitest";
import { counted } from "./words";

describe("counted", () => {
  it("puts the noun in the number the count needs, with thousands separated", () => {
    expect(counted(0, "member")).toBe("0 members");
    expect(counted(1, "member")).toBe("1 member");
    expect(counted(1200, "member")).toBe("1,200 members");
    expect(counted(1, "day")).toBe("1 day");
    expect(counted(2, "identity", "identities")).toBe("2 identities");
  });
});
