"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { ConfirmDialog } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import type { FieldErrors } from "@/lib/errors";
import { closeReviewAction, createReviewAction, decideReviewItemsAction } from "./actions";

type Option = { id: string; label: string };

function CheckboxGroup({ legend, name, options, errors }: { legend: string; name: string; options: Option[]; errors?: string[] }) {
  return (
    <fieldset className="flex flex-col gap-1" aria-invalid={errors ? true : undefined} aria-describedby={errors ? `${name}-error` : undefined}>
      <legend className="mb-1 text-sm font-medium text-slate-700">{legend}</legend>
      <div className="max-h-48 overflow-y-auto rounded-md border border-slate-200 bg-white p-2">
        {options.length === 0 && <p className="text-sm text-slate-500">None yet.</p>}
        {options.map((o) => (
          <label key={o.id} className="flex items-center gap-2 py-0.5 text-sm">
            <input type="checkbox" name={name} value={o.id} /> {o.label}
          </label>
        ))}
      </div>
      {errors && (
        <p id={`${name}-error`} className="text-sm text-red-700">
          {errors.join(" ")}
        </p>
      )}
    </fieldset>
  );
}

/** New campaign: name, what is reviewed (groups, resources or environment access), reviewers, due date, repetition. */
export function CreateReviewForm({ envKey, environmentId, groups, resources, reviewers }: { envKey: string; environmentId: string; groups: Option[]; resources: Option[]; reviewers: Option[] }) {
  const [scope, setScope] = useState<"groups" | "resources" | "environment_access">("groups");
  const [errors, setErrors] = useState<FieldErrors>({});
  const { pending, run } = useAction();
  return (
    <form
      aria-label="New access review"
      className="grid gap-4 md:grid-cols-2"
      onSubmit={(e) => {
        e.preventDefault();
        const d = new FormData(e.currentTarget);
        const due = String(d.get("dueAt") ?? "");
        run(
          () =>
            createReviewAction({
              environmentId,
              name: d.get("name"),
              scope,
              scopeIds: scope === "environment_access" ? [] : d.getAll("scopeIds"),
              reviewerIds: d.getAll("reviewerIds"),
              recurrenceMonths: d.get("recurrenceMonths") ?? "",
              // A due date is the end of that day, UTC.
              dueAt: due ? `${due}T23:59:59Z` : "",
            }),
          { fieldErrors: setErrors, success: "Review started.", redirectTo: (data) => `/console/${envKey}/reviews/${data.id}` },
        );
      }}
    >
      <Field label="Review name" name="name" errors={errors.name} placeholder="Q4 payments access" />
      <Field label="Due date" name="dueAt" type="date" errors={errors.dueAt} />
      <fieldset className="flex gap-4 text-sm md:col-span-2">
        <legend className="mb-1 text-sm font-medium text-slate-700">Review</legend>
        <label className="flex items-center gap-2">
          <input type="radio" name="scope" checked={scope === "groups"} onChange={() => setScope("groups")} /> Group memberships
        </label>
        <label className="flex items-center gap-2">
          <input type="radio" name="scope" checked={scope === "resources"} onChange={() => setScope("resources")} /> Grants on resources
        </label>
        <label className="flex items-center gap-2">
          <input type="radio" name="scope" checked={scope === "environment_access"} onChange={() => setScope("environment_access")} /> Environment access
        </label>
      </fieldset>
      {scope === "environment_access" ? (
        <p className="text-sm text-slate-600">Every user who may enter this environment is an item; a revocation removes their access here (their groups and sessions here go with it).</p>
      ) : (
        <CheckboxGroup key={scope} legend={scope === "groups" ? "Groups" : "Resources"} name="scopeIds" options={scope === "groups" ? groups : resources} errors={errors.scopeIds} />
      )}
      <CheckboxGroup legend="Reviewers" name="reviewerIds" options={reviewers} errors={errors.reviewerIds} />
      <div className="flex flex-col gap-1">
        <label htmlFor="recurrenceMonths" className="text-sm font-medium text-slate-700">
          Repeat
        </label>
        <select
          id="recurrenceMonths"
          name="recurrenceMonths"
          defaultValue=""
          aria-invalid={errors.recurrenceMonths ? true : undefined}
          aria-describedby={errors.recurrenceMonths ? "recurrenceMonths-error" : "recurrenceMonths-hint"}
          className="rounded-md border border-slate-300 px-2 py-1.5 text-sm"
        >
          <option value="">Once</option>
          {Array.from({ length: 12 }, (_, i) => i + 1).map((n) => (
            <option key={n} value={n}>
              Every {n === 1 ? "month" : `${n} months`}
            </option>
          ))}
        </select>
        {errors.recurrenceMonths ? (
          <p id="recurrenceMonths-error" className="text-sm text-red-700">
            {errors.recurrenceMonths.join(" ")}
          </p>
        ) : (
          <p id="recurrenceMonths-hint" className="text-xs text-slate-500">
            When this review closes or reaches its due date, the next one starts with the same scope and reviewers.
          </p>
        )}
      </div>
      <div className="md:col-span-2">
        <Button type="submit" disabled={pending}>
          Start review
        </Button>
      </div>
    </form>
  );
}

/** Keep / revoke for one item, with the comment (required to revoke). */
export function DecideItem({ reviewId, itemId, label }: { reviewId: string; itemId: string; label: string }) {
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const { pending, run } = useAction();
  const decide = (decision: "keep" | "revoke") =>
    run(() => decideReviewItemsAction({ reviewId, itemIds: [itemId], decision, comment }), {
      onError: (message, fieldErrors) => setError(fieldErrors?.comment?.join(" ") ?? message),
      onSuccess: () => setError(null),
      success: decision === "keep" ? `Keep: ${label}` : `Revoke: ${label}`,
    });
  const errorId = `comment-error-${itemId}`;
  return (
    <div className="flex flex-wrap items-start gap-2">
      <div className="flex flex-col">
        <input
          aria-label={`Comment on ${label}`}
          value={comment}
          onChange={(e) => setComment(e.target.value)}
          placeholder="Comment"
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? errorId : undefined}
          className="w-48 rounded-md border border-slate-300 px-2 py-1 text-sm"
        />
        {error && (
          <span id={errorId} className="text-xs text-red-700">
            {error}
          </span>
        )}
      </div>
      <Button variant="secondary" className="py-1" disabled={pending} onClick={() => decide("keep")} aria-label={`Keep ${label}`}>
        Keep
      </Button>
      <Button variant="danger" className="py-1" disabled={pending} onClick={() => decide("revoke")} aria-label={`Revoke ${label}`}>
        Revoke
      </Button>
    </div>
  );
}

export function CloseReview({ reviewId, revoke, undecided }: { reviewId: string; revoke: number; undecided: number }) {
  const [open, setOpen] = useState(false);
  const { pending, run } = useAction();
  return (
    <>
      <Button variant="danger" onClick={() => setOpen(true)}>
        Close review
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        title="Close this review?"
        description={`${revoke} revocation${revoke === 1 ? "" : "s"} will be applied now${undecided ? `; ${undecided} undecided item${undecided === 1 ? " is" : "s are"} kept` : ""}. The report is signed off in your name and decisions become final.`}
        confirmLabel="Close and apply"
        pending={pending}
        onConfirm={() =>
          run(() => closeReviewAction(reviewId), {
            onSuccess: () => setOpen(false),
            success: (d) => `Closed: ${d.revoked} revoked, ${d.alreadyGone} already gone.${d.excluded ? ` ${d.excluded} excluded from directory or IdP sync.` : ""}`,
          })
        }
      />
    </>
  );
}
