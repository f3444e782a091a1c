import { describe, expect, it } from "vitest";
import type { FieldErrors } from "@/lib/errors";
import { settleAction, type UseActionOptions } from "./use-action";

function harness() {
  const calls: string[] = [];
  const ui = {
    toast: {
      success: (m: unknown) => (calls.push(`toast.success ${String(m)}`), 1),
      error: (m: unknown) => (calls.push(`toast.error ${String(m)}`), 1),
    },
    router: { refresh: () => void calls.push("refresh"), push: (href: string) => void calls.push(`push ${href}`) },
  };
  return { calls, ui };
}

const settle = <T>(result: Parameters<typeof settleAction<T>>[0], options: UseActionOptions<T>) => {
  const h = harness();
  settleAction(result, options, h.ui);
  return h.calls;
};

describe("settleAction", () => {
  it("toasts a success, then refreshes; toasts an error without refreshing", () => {
    expect(settle({ ok: true, data: 2 }, { success: (n) => `${n} added.` })).toEqual(["toast.success 2 added.", "refresh"]);
    expect(settle({ ok: false, error: "No." }, { success: "Saved." })).toEqual(["toast.error No."]);
  });

  it("refreshes after any answer with refresh: always, never with refresh: false", () => {
    expect(settle({ ok: false, error: "No." }, { refresh: "always" })).toEqual(["toast.error No.", "refresh"]);
    expect(settle({ ok: true, data: null }, { refresh: false })).toEqual([]);
  });

  it("redirects instead of refreshing", () => {
    expect(settle({ ok: true, data: { id: "x" } }, { success: "Done.", redirectTo: (d) => `/a/${d.id}` })).toEqual(["toast.success Done.", "push /a/x"]);
  });

  it("inline errors: field errors, or the message as the form error; no toast; cleared on success", () => {
    const seen: FieldErrors[] = [];
    const options = { error: "inline", fieldErrors: (e: FieldErrors) => void seen.push(e) } as const;
    expect(settle({ ok: false, error: "Check the fields.", fieldErrors: { name: ["Required."] } }, options)).toEqual([]);
    expect(settle({ ok: false, error: "Gone." }, options)).toEqual([]);
    expect(settle({ ok: true, data: 1 }, options)).toEqual(["refresh"]);
    expect(seen).toEqual([{ name: ["Required."] }, { _form: ["Gone."] }, {}]);
  });

  it("toasted errors with field errors: the fields inline (none named: none), the message in a toast", () => {
    const seen: FieldErrors[] = [];
    const options = { fieldErrors: (e: FieldErrors) => void seen.push(e) };
    expect(settle({ ok: false, error: "Check the fields.", fieldErrors: { name: ["Required."] } }, options)).toEqual(["toast.error Check the fields."]);
    expect(settle({ ok: false, error: "Gone." }, options)).toEqual(["toast.error Gone."]);
    expect(seen).toEqual([{ name: ["Required."] }, {}]);
  });

  it("calls onSettled first, then onSuccess or onError", () => {
    const order: string[] = [];
    const options: UseActionOptions<number> = {
      onSettled: () => order.push("settled"),
      onSuccess: (n) => order.push(`success ${n}`),
      onError: (e, f) => order.push(`error ${e} ${JSON.stringify(f)}`),
      refresh: false,
    };
    settle({ ok: true, data: 3 }, options);
    settle({ ok: false, error: "No.", fieldErrors: { comment: ["Say why."] } }, options);
    expect(order).toEqual(["settled", "success 3", "settled", 'error No. {"comment":["Say why."]}']);
  });
});
