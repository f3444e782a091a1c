"use client";

import * as Dialog from "@radix-ui/react-dialog";
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

/** "Are you sure?": a dialog whose footer is Cancel and one danger button that runs `onConfirm`. */
export function ConfirmDialog({
  open,
  onOpenChange,
  title,
  description,
  confirmLabel,
  pending,
  onConfirm,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description: React.ReactNode;
  confirmLabel: string;
  pending?: boolean;
  onConfirm: () => void;
}) {
  return (
    <Modal
      open={open}
      onOpenChange={onOpenChange}
      title={title}
      description={description}
      footer={
        <>
          <Button variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button variant="danger" disabled={pending} onClick={onConfirm}>
            {confirmLabel}
          </Button>
        </>
      }
    />
  );
}
