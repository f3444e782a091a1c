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

/** A labelled select of options (id and name), with its field errors; the label names the select alone. */
export function SelectField({
  label,
  value,
  onChange,
  options,
  errors,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  options: readonly { id: string; name: string }[];
  errors?: string[];
}) {
  const id = useId();
  const invalid = Boolean(errors?.length);
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="text-sm font-medium text-slate-700">
        {label}
      </label>
      <select
        id={id}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={invalid || undefined}
        aria-describedby={invalid ? `${id}-error` : undefined}
        className="rounded-md border border-slate-300 px-2 py-2 text-sm"
      >
        {options.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
      {invalid && (
        <p id={`${id}-error`} className="text-sm text-red-700">
          {errors!.join(" ")}
        </p>
      )}
    </div>
  );
}
