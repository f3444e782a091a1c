"use client";

import { useCallback, useTransition } from "react";
import { useRouter } from "next/navigation";
import { toast } from "sonner";
import type { ActionResult } from "@/lib/actions";
import { requestStepUp } from "@/components/console/step-up";
import type { FieldErrors } from "@/lib/errors";

export type UseActionOptions<T> = {
  /** The success toast: a text, or one made from the data; none when omitted. */
  success?: string | ((data: T) => string);
  /** Where the error message goes: a toast (the default), or "inline": no toast, the form shows it. */
  error?: "toast" | "inline";
  /**
   * Field errors shown beside their fields: on failure the action's field errors (with `error: "inline"`
   * and none named, the message as the form's `_form` error), on success none.
   */
  fieldErrors?: (errors: FieldErrors) => void;
  /** Runs first once the action answers, whatever the answer (closing a confirm dialog). */
  onSettled?: () => void;
  onSuccess?: (data: T) => void;
  onError?: (error: string, fieldErrors: FieldErrors | undefined) => void;
  /** router.refresh(): after a success (the default), after any answer ("always"), or never (false). */
  refresh?: boolean | "always";
  /** After a success, go here instead of refreshing. */
  redirectTo?: string | ((data: T) => string);
};

type Toast = Pick<typeof toast, "success" | "error">;
type Router = { refresh(): void; push(href: string): void };

/** What follows a server action's answer: toasts, field errors, callbacks, then refresh or redirect. Pure, for the tests. */
export function settleAction<T>(result: ActionResult<T>, options: UseActionOptions<T>, ui: { toast: Toast; router: Router }): void {
  const { success, error = "toast", fieldErrors, onSettled, onSuccess, onError, refresh = true, redirectTo } = options;
  onSettled?.();
  if (result.ok) {
    fieldErrors?.({});
    if (success !== undefined) ui.toast.success(typeof success === "function" ? success(result.data) : success);
    onSuccess?.(result.data);
    if (redirectTo !== undefined) ui.router.push(typeof redirectTo === "function" ? redirectTo(result.data) : redirectTo);
    else if (refresh) ui.router.refresh();
    return;
  }
  if (error === "inline") fieldErrors?.(result.fieldErrors ?? { _form: [result.error] });
  else fieldErrors?.(result.fieldErrors ?? {});
  onError?.(result.error, result.fieldErrors);
  if (error === "toast") ui.toast.error(result.error);
  if (refresh === "always") ui.router.refresh();
}

/**
 * Click → server action → toast → refresh, with one pending state for every action the component runs.
 * `run(() => someAction(input), { success: "Saved." })`. A sensitive action that asks for the second
 * factor again (step_up_required) opens the step-up dialog, and runs once more after it is confirmed.
 */
export function useAction() {
  const router = useRouter();
  const [pending, start] = useTransition();
  const run = useCallback(
    <T>(action: () => Promise<ActionResult<T>>, options: UseActionOptions<T> = {}) =>
      start(async () => {
        let result = await action();
        if (!result.ok && result.code === "step_up_required" && (await requestStepUp())) result = await action();
        settleAction(result, options, { toast, router });
      }),
    [router],
  );
  return { pending, run };
}
