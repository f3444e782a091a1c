import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { DataTablePagination } from "./data-table";

const total = (value: number, exact = true) =>
  renderToStaticMarkup(
    <DataTablePagination total={{ value, exact }} noun={{ one: "user", other: "users" }} size={25} sizes={[25, 50]} onSize={() => {}} onPrev={null} onNext={null} />,
  ).match(/data-testid="table-total">([^<]*)</)![1];

describe("the table's count", () => {
  it("says one user, not one users; an estimate says so", () => {
    expect(total(0)).toBe("0 users");
    expect(total(1)).toBe("1 user");
    expect(total(12345)).toBe("12,345 users");
    expect(total(120000, false)).toBe("About 120,000 users (estimate)");
  });
});
