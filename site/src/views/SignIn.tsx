import { useState } from "preact/hooks";
import type { Services } from "../app";
import { CognitoError, confirmForgotPassword, confirmSignUp, forgotPassword, resendCode, signUp } from "../cognito";
import { describe } from "../errors";
import { t } from "../i18n";

type Mode = "signIn" | "signUp" | "confirm" | "forgot" | "reset";

const value = (event: Event) => (event.currentTarget as HTMLInputElement).value;

export function SignIn({ services }: { services: Services }) {
  const { config, session } = services;
  const [mode, setMode] = useState<Mode>("signIn");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(
    session.reason === "expired" ? t("errExpired") : session.reason === "signedOut" ? t("errSignedOut") : null);
  const [notice, setNotice] = useState<string | null>(null);

  async function run(action: () => Promise<void>) {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      await action();
    } catch (caught) {
      if (caught instanceof CognitoError && caught.code === "UserNotConfirmedException") setMode("confirm");
      const legacy = mode === "signIn" && caught instanceof CognitoError && caught.code === "InvalidPasswordException";
      setError(legacy ? t("errLegacyPassword") : describe(caught));
    } finally {
      setBusy(false);
    }
  }

  const submit = (event: Event) => {
    event.preventDefault();
    if (mode === "signIn") return run(() => session.signIn(email, password));
    if (mode === "signUp") {
      return run(async () => {
        await signUp(config, email.trim(), password);
        setMode("confirm");
        setNotice(t("codeSent", { email }));
      });
    }
    if (mode === "confirm") {
      return run(async () => {
        await confirmSignUp(config, email.trim(), code.trim());
        setMode("signIn");
        setNotice(t("confirmed"));
      });
    }
    if (mode === "forgot") {
      return run(async () => {
        await forgotPassword(config, email.trim());
        setMode("reset");
        setNotice(t("codeSent", { email }));
      });
    }
    return run(async () => {
      await confirmForgotPassword(config, email.trim(), code.trim(), password);
      setMode("signIn");
      setPassword("");
      setNotice(t("resetDone"));
    });
  };

  const titles: Record<Mode, string> = {
    signIn: t("signInTitle"), signUp: t("signUpTitle"), confirm: t("confirmTitle"), forgot: t("forgotTitle"),
    reset: t("forgotTitle"),
  };
  const actions: Record<Mode, string> = {
    signIn: t("signIn"), signUp: t("signUp"), confirm: t("confirm"), forgot: t("sendCode"), reset: t("resetPassword"),
  };
  const needsPassword = mode === "signIn" || mode === "signUp" || mode === "reset";
  const needsCode = mode === "confirm" || mode === "reset";

  return (
    <section class="card narrow">
      <h1>{titles[mode]}</h1>
      <p class="muted">{t("tagline")}</p>
      {error && <p role="alert" class="error">{error}</p>}
      {notice && <p role="status" class="notice">{notice}</p>}
      <form onSubmit={submit}>
        <label>{t("email")}
          <input type="email" name="email" autocomplete="username" required value={email}
                 onInput={(e) => setEmail(value(e))} />
        </label>
        {needsCode && (
          <label>{t("code")}
            <input name="code" inputMode="numeric" autocomplete="one-time-code" required value={code}
                   onInput={(e) => setCode(value(e))} />
          </label>
        )}
        {needsPassword && (
          <label>{mode === "reset" ? t("newPassword") : t("password")}
            <input type="password" name="password" required minLength={mode === "signIn" ? 1 : 10}
                   autocomplete={mode === "signIn" ? "current-password" : "new-password"} value={password}
                   onInput={(e) => setPassword(value(e))} aria-describedby={mode === "signIn" ? undefined : "rule"} />
          </label>
        )}
        {needsPassword && mode !== "signIn" && <p id="rule" class="muted small">{t("passwordRule")}</p>}
        <button type="submit" disabled={busy}>{busy ? t("working") : actions[mode]}</button>
      </form>
      <div class="links">
        {mode !== "signIn" && <button type="button" class="link" onClick={() => setMode("signIn")}>{t("haveAccount")}</button>}
        {mode === "signIn" && <button type="button" class="link" onClick={() => setMode("signUp")}>{t("createAccount")}</button>}
        {mode === "signIn" && <button type="button" class="link" onClick={() => setMode("forgot")}>{t("forgot")}</button>}
        {mode === "confirm" && (
          <button type="button" class="link" disabled={busy}
                  onClick={() => run(async () => { await resendCode(config, email.trim()); setNotice(t("codeSent", { email })); })}>
            {t("resend")}
          </button>
        )}
      </div>
    </section>
  );
}
