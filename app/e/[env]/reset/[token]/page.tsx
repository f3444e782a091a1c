import { SetPasswordPage } from "../../set-password-page";

export const metadata = { title: "Reset your password" };

export default function ResetPage({ params }: { params: Promise<{ env: string; token: string }> }) {
  return <SetPasswordPage purpose="reset" params={params} />;
}
