"use client";

import { useEffect, useState } from "react";
import { startAuthentication } from "@simplewebauthn/browser";
import { confirmSecondFactorAction, stepUpPasskeyOptionsAction } from "@/app/console/security/actions";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { Modal } from "@/components/ui/modal";

// Step-up: a sensitive action answered "step_up_required" (lib/actions.ts); useAction asks here for
// a code, and runs the action again once it is confirmed. One dialog, mounted by the console layout.

let ask: ((resolve: (confirmed: boolean) => void) => void) | null = null;

/** Asks the member for a second-factor code; true once the server accepted one, false if they cancel (or no dialog is mounted). */
export function requestStepUp(): Promise<boolean> {
  return new Promise((resolve) => (ask ? ask(resolve) : resolve(false)));
}

export function StepUpDialog() {
  const [resolve, setResolve] = useState<((confirmed: boolean) => void) | null>(null);
  const [error, setError] = useState<string[] | undefined>();
  const [pending, setPending] = useState(false);
  useEffect(() => {
    ask = (r) => setResolve(() => r);
    return () => {
      ask = null;
    };
  }, []);
  const answer = async (code: FormDataEntryValue | string | null) => {
    setPending(true);
    const result = await confirmSecondFactorAction(code);
    setPending(false);
    if (result.ok) close(true);
    else setError(result.fieldErrors?.code ?? [result.error]);
  };
  const withPasskey = async () => {
    const options = await stepUpPasskeyOptionsAction();
    if (!options.ok) return setError([options.error]);
    if (!options.data) return setError(["You have no passkey: enter a code from your authenticator app, or a recovery code."]);
    const response = await startAuthentication({ optionsJSON: options.data }).catch(() => null);
    if (!response) return setError(["The passkey was not used. Try again, or enter a code."]);
    await answer(JSON.stringify(response));
  };
  const close = (confirmed: boolean) => {
    resolve?.(confirmed);
    setResolve(null);
    setError(undefined);
  };
  return (
    <Modal
      open={resolve !== null}
      onOpenChange={(open) => !open && close(false)}
      title="Confirm it is you"
      description="This change is sensitive. Enter a code from your authenticator app, or a recovery code."
      footer={
        <>
          <Button variant="secondary" onClick={() => close(false)}>
            Cancel
          </Button>
          <Button variant="secondary" disabled={pending} onClick={() => void withPasskey()}>
            Use a passkey
          </Button>
          <Button type="submit" form="step-up-form" disabled={pending}>
            Confirm
          </Button>
        </>
      }
    >
      <form
        id="step-up-form"
        className="mt-4"
        onSubmit={(event) => {
          event.preventDefault();
          void answer(new FormData(event.currentTarget).get("code"));
        }}
      >
        <Field label="Authentication code" name="code" autoComplete="one-time-code" autoFocus required errors={error} />
      </form>
    </Modal>
  );
}
