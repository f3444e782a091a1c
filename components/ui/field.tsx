import { clsx } from "clsx";
import { useId, type InputHTMLAttributes } from "react";

/** A labelled input with its field errors, wired for screen readers (aria-invalid, aria-describedby). */
export function Field({
  label,
  errors,
  className,
  ...props
}: InputHTMLAttributes<HTMLInputElement> & { label: string; errors?: string[] }) {
  const id = useId();
  const errorId = `${id}-error`;
  const invalid = Boolean(errors?.length);
  return (
    <div className={clsx("flex flex-col gap-1", className)}>
      <label htmlFor={id} className="text-sm font-medium text-slate-700">
        {label}
      </label>
      <input
        id={id}
        aria-invalid={invalid || undefined}
        aria-describedby={invalid ? errorId : undefined}
        className={clsx(
          "rounded-md border px-3 py-2 text-sm shadow-sm",
          invalid ? "border-red-500" : "border-slate-300 focus:border-brand-500",
        )}
        {...props}
      />
      {invalid && (
        <p id={errorId} className="text-sm text-red-700">
          {errors!.join(" ")}
        </p>
      )}
    </div>
  );
}
