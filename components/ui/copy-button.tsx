"use client";

import { Check, Copy } from "lucide-react";
import { useState } from "react";

/** Copies `value` to the clipboard; says so for a moment (and to screen readers). */
export function CopyButton({ value, label }: { value: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      aria-label={copied ? `${label} copied` : `Copy ${label}`}
      title={copied ? "Copied" : "Copy"}
      className="ml-1 inline-flex items-center rounded p-1 align-middle text-slate-500 hover:bg-slate-100 hover:text-slate-800"
      onClick={async () => {
        await navigator.clipboard.writeText(value);
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      }}
    >
      {copied ? <Check aria-hidden className="h-4 w-4 text-green-700" /> : <Copy aria-hidden className="h-4 w-4" />}
      <span aria-live="polite" className="sr-only">
        {copied ? "Copied" : ""}
      </span>
    </button>
  );
}
