"use client";

import * as Dialog from "@radix-ui/react-dialog";
import { useCallback, useState } from "react";
import { Button } from "./button";

/**
 * A dialog (Radix: focus trap, Escape, ARIA) with a title, a description (visible or for screen
 * readers only), a body and a footer; without a footer it gets a Close button.
 */
export function Modal({
  open,
  onOpenChange,
  title,
  description,
  hideDescription = false,
  children,
  footer,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description: React.ReactNode;
  hideDescription?: boolean;
  children?: React.ReactNode;
  footer?: React.ReactNode;
}) {
  return (
    <Dialog.Root open={open} onOpenChange={onOpenChange}>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 bg-slate-900/40" />
        <Dialog.Content className="fixed left-1/2 top-1/2 max-h-[80vh] w-full max-w-lg -translate-x-1/2 -translate-y-1/2 overflow-auto rounded-lg bg-white p-6 shadow-xl">
          <Dialog.Title className="text-lg font-semibold">{title}</Dialog.Title>
          <Dialog.Description className={hideDescription ? "sr-only" : "mt-2 text-sm text-slate-700"}>{description}</Dialog.Description>
          {children}
          <div className="mt-6 flex justify-end gap-2">
            {footer ?? (
              <Dialog.Close asChild>
                <Button>Close</Button>
              </Dialog.Close>
            )}
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

export const ModalClose = Dialog.Close;

/**
 * "Are you sure?": a dialog whose footer is Cancel and one danger button that runs `onConfirm`.
 * With `typeToConfirm`, the button stays disabled until that text (a name) is typed: for what
 * cannot be undone.
 */
export function ConfirmDialog({
  open,
  onOpenChange,
  title,
  description,
  confirmLabel,
  pending,
  onConfirm,
  typeToConfirm,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description: React.ReactNode;
  confirmLabel: string;
  pending?: boolean;
  onConfirm: () => void;
  typeToConfirm?: string;
}) {
  const [typed, setTyped] = useState("");
  const matches = !typeToConfirm || typed.trim() === typeToConfirm;
  return (
    <Modal
      open={open}
      onOpenChange={(next) => {
        if (!next) setTyped("");
        onOpenChange(next);
      }}
      title={title}
      description={description}
      footer={
        <>
          <Button variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button variant="danger" disabled={pending || !matches} onClick={onConfirm}>
            {confirmLabel}
          </Button>
        </>
      }
    >
      {typeToConfirm && (
        <label className="mt-4 flex flex-col gap-1 text-sm font-medium text-slate-700">
          <span>
            Type <strong className="font-mono">{typeToConfirm}</strong> to confirm
          </span>
          <input
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            className="rounded-md border border-slate-300 px-3 py-2 font-mono text-sm"
          />
        </label>
      )}
    </Modal>
  );
}

/** Where a page keeps what cannot be undone: apart from the everyday buttons, with a plain warning. */
export function DangerZone({ title = "Danger zone", children }: { title?: string; children: React.ReactNode }) {
  return (
    <section aria-label={title} className="mt-6 rounded-md border border-red-200 p-4">
      <h3 className="mb-2 text-sm font-semibold text-red-800">{title}</h3>
      <div className="flex flex-wrap items-center gap-3 text-sm text-slate-700">{children}</div>
    </section>
  );
}

/**
 * A Danger zone holding one action that cannot be undone: the warning, a red-outlined button, and
 * the dialog that asks for `typeToConfirm` typed out. `onConfirm` gets `close` for when the action settles.
 */
export function DangerAction({
  warning,
  buttonLabel,
  disabled,
  onConfirm,
  ...dialog
}: {
  warning: React.ReactNode;
  buttonLabel: string;
  disabled?: boolean;
  onConfirm: (close: () => void) => void;
} & Omit<React.ComponentProps<typeof ConfirmDialog>, "open" | "onOpenChange" | "onConfirm">) {
  const [open, setOpen] = useState(false);
  return (
    <DangerZone>
      <span>{warning}</span>
      <Button type="button" variant="secondary" className="border-red-300 text-red-700 hover:bg-red-50" disabled={disabled} onClick={() => setOpen(true)}>
        {buttonLabel}
      </Button>
      <ConfirmDialog {...dialog} open={open} onOpenChange={setOpen} onConfirm={() => onConfirm(() => setOpen(false))} />
    </DangerZone>
  );
}

type ConfirmRequest = { title: string; description: React.ReactNode; confirmLabel: string; onConfirm: () => void };

/**
 * An "Are you sure?" asked in the page's own dialog (not the browser's `confirm()`, which blocks
 * the page, cannot be styled, and reads differently in every browser): render `dialog` once, and
 * call `ask` with what to confirm; `onConfirm` runs after the dialog closes.
 */
export function useConfirm(): [dialog: React.ReactNode, ask: (request: ConfirmRequest) => void] {
  // The last request stays while the dialog closes, so it does not empty before it is gone.
  const [request, setRequest] = useState<ConfirmRequest | null>(null);
  const [open, setOpen] = useState(false);
  const dialog = (
    <ConfirmDialog
      open={open}
      onOpenChange={setOpen}
      title={request?.title ?? ""}
      description={request?.description ?? ""}
      confirmLabel={request?.confirmLabel ?? ""}
      onConfirm={() => {
        setOpen(false);
        request?.onConfirm();
      }}
    />
  );
  const ask = useCallback((next: ConfirmRequest) => {
    setRequest(next);
    setOpen(true);
  }, []);
  return [dialog, ask];
}
