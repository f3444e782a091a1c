import type { FieldErrors } from "@/lib/errors";

type State = { error?: string; fieldErrors?: FieldErrors } | null;

/** The form-level message to show, or null: not when a field already shows the same words beside it. */
export function formLevelError(state: State): string | null {
  if (!state?.error) return null;
  const beside = Object.values(state.fieldErrors ?? {}).flat();
  return beside.includes(state.error) ? null : state.error;
}
