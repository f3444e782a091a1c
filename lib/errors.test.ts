import { describe, expect, it } from "vitest";
import { fieldErrorsOfShownRows, fieldErrorsUnder } from "./errors";

describe("field errors of a form's list", () => {
  it("names the form's rows when blank rows were left out of what was sent", () => {
    // The form shows rows 0–3; row 1 was blank, so rows 0, 2, 3 were sent as 0, 1, 2.
    const sent = { "mappings.1.groupId": ["Choose the group this value maps to."], "mappings.2.idpValue": ["Too long."], mappings: ["Whole list."], _form: ["Not saved."] };
    expect(fieldErrorsOfShownRows(sent, "mappings", [0, 2, 3])).toEqual({
      "mappings.2.groupId": ["Choose the group this value maps to."],
      "mappings.3.idpValue": ["Too long."],
      mappings: ["Whole list."],
      _form: ["Not saved."],
    });
  });

  it("leaves keys alone that are no row of that list", () => {
    const errors = { "mappingsX.0": ["a"], "mappings.x": ["b"], "mappings.9.groupId": ["c"] };
    expect(fieldErrorsOfShownRows(errors, "mappings", [4])).toEqual(errors);
  });

  it("gathers a list field's errors and its parts'", () => {
    expect(fieldErrorsUnder({ breakGlassEmails: ["a"], "breakGlassEmails.1": ["b"], breakGlassEmailsX: ["c"] }, "breakGlassEmails")).toEqual(["a", "b"]);
  });
});
