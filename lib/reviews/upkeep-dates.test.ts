import { describe, expect, it } from "vitest";
import { reviewerMail } from ".";
import { addMonths } from "./upkeep";

// Pure parts of the reviews' upkeep: the next due date of a recurring campaign, and the mails.

describe("addMonths", () => {
  it("moves by calendar months in UTC, keeping the time of day", () => {
    expect(addMonths(new Date("2026-03-15T23:59:59Z"), 3).toISOString()).toBe("2026-06-15T23:59:59.000Z");
    expect(addMonths(new Date("2026-11-30T12:00:00Z"), 2).toISOString()).toBe("2027-01-30T12:00:00.000Z");
    expect(addMonths(new Date("2026-01-15T00:00:00Z"), 12).toISOString()).toBe("2027-01-15T00:00:00.000Z");
  });

  it("clamps the 29th–31st to the last day of a shorter month instead of spilling into the next", () => {
    expect(addMonths(new Date("2026-01-31T23:59:59Z"), 1).toISOString()).toBe("2026-02-28T23:59:59.000Z");
    expect(addMonths(new Date("2028-01-31T10:00:00Z"), 1).toISOString()).toBe("2028-02-29T10:00:00.000Z");
    expect(addMonths(new Date("2026-08-31T10:00:00Z"), 1).toISOString()).toBe("2026-09-30T10:00:00.000Z");
  });
});

describe("reviewer mails", () => {
  const review = { id: "9f1c2d3e-0000-4000-8000-000000000001", name: "Q1 payments", dueAt: new Date("2026-03-31T23:59:59Z") };
  const reviewer = { id: "9f1c2d3e-0000-4000-8000-000000000002", email: "rita@example.com", name: "Rita" };
  const env = { key: "prod", name: "PROD" };

  it("are addressed to the console member, link the campaign and say what is left", () => {
    const assigned = reviewerMail(reviewer, review, env, "assigned", 3);
    expect(assigned).toMatchObject({ to: "rita@example.com", consoleMemberId: reviewer.id, subject: "Access review to do: Q1 payments (PROD)" });
    expect(assigned.text).toContain("3 items to keep or revoke");
    expect(assigned.text).toMatch(/\/console\/prod\/reviews\/9f1c2d3e-0000-4000-8000-000000000001\n/);
    expect(reviewerMail(reviewer, review, env, "soon", 1).subject).toBe("Reminder: access review Q1 payments is due 2026-03-31 23:59 UTC");
    expect(reviewerMail(reviewer, review, env, "soon", 1).text).toContain("1 item is still undecided");
    expect(reviewerMail(reviewer, review, env, "due", 2).subject).toBe("Due today: access review Q1 payments");
  });
});
