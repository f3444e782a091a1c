import { SetPasswordPage } from "../../set-password-page";

export const metadata = { title: "Set your password" };

export default function InvitePage({ params }: { params: Promise<{ env: string; token: string }> }) {
  return <SetPasswordPage purpose="invite" params={params} />;
}
