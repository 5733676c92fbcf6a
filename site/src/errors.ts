// Every failure a person can meet, as a sentence in their language (never a blank screen).
import { ApiError } from "./api";
import { CognitoError } from "./cognito";
import { t } from "./i18n";

export function describe(error: unknown): string {
  if (error instanceof CognitoError) {
    switch (error.code) {
      case "NotAuthorizedException":
      case "UserNotFoundException":
        return t("errWrongCredentials");
      case "UserNotConfirmedException":
        return t("errNotConfirmed");
      case "UsernameExistsException":
        return t("errExists");
      case "InvalidPasswordException":
      case "InvalidParameterException":
        return t("errPassword", { detail: error.message });
      case "CodeMismatchException":
      case "ExpiredCodeException":
        return t("errCode");
      case "LimitExceededException":
      case "TooManyRequestsException":
      case "TooManyFailedAttemptsException":
        return t("errLimit");
      case "NetworkError":
        return t("errNetwork");
    }
    return t("errGeneric", { detail: error.message || error.code });
  }
  if (error instanceof ApiError) {
    if (error.code === "NetworkError") return t("errNetwork");
    if (error.status === 401) return t("errExpired");
    if (error.status === 404) return t("notFound");
    if (error.status === 429) return t("errLimit");
    return t("errGeneric", { detail: error.message || error.code });
  }
  return t("errGeneric", { detail: error instanceof Error ? error.message : String(error) });
}
