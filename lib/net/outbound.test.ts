import { describe, expect, it } from "vitest";
import { isPrivateAddress } from "./outbound";

describe("private addresses", () => {
  it("flags this machine, private networks and special ranges, in every spelling; passes public ones", () => {
    const flagged = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "198.18.0.1", "224.0.0.1", "255.255.255.255",
      "::1", "::", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:a00:1", "::7f00:1", "64:ff9b::a00:1", "ff02::1",
      // Tunnels and translators that carry an IPv4 address inside, and the old site-local range.
      "2002:7f00:1::", "2002:c0a8:101::1", "64:ff9b:1::7f00:1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "fec0::1"];
    const passed = ["8.8.8.8", "172.32.0.1", "100.128.0.1", "192.169.0.1", "2606:4700::1111", "::ffff:808:808", "2001:4860:4860::8888", "2a00:1450::1"];
    expect(flagged.filter((ip) => !isPrivateAddress(ip))).toEqual([]);
    expect(passed.filter((ip) => isPrivateAddress(ip))).toEqual([]);
    expect(isPrivateAddress("not-an-address")).toBe(false);
  });
});
