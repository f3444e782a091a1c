"use client";

import { useAction } from "@/components/use-action";
import { updateDirectorySettingsAction } from "../actions";
import { PatchAnswerSelect } from "../directories";

/** A directory's protocol settings, saved as they change. */
export function DirectorySettings({ directoryId, patchAnswer }: { directoryId: string; patchAnswer: string }) {
  const { pending, run } = useAction();
  return (
    <fieldset disabled={pending} className="flex flex-wrap items-end gap-3">
      <PatchAnswerSelect defaultValue={patchAnswer} onChange={(value) => run(() => updateDirectorySettingsAction(directoryId, { patchAnswer: value }), { success: "Saved." })} />
    </fieldset>
  );
}
