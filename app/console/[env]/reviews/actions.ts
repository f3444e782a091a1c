"use server";

import { consoleAction } from "@/lib/actions";
import { closeAccessReview, createAccessReview, decideReviewItems } from "@/lib/reviews";

export const createReviewAction = consoleAction({ permission: ["access_reviews", "write"] }, async (ctx, input: unknown) => {
  const review = await createAccessReview(ctx, input);
  return { id: review.id };
});

export const decideReviewItemsAction = consoleAction({ permission: ["review_decisions", "write"] }, (ctx, input: unknown) => decideReviewItems(ctx, input));

export const closeReviewAction = consoleAction({ permission: ["access_reviews", "write"] }, (ctx, reviewId: string) => closeAccessReview(ctx, reviewId));
