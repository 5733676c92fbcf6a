// Cognito's user-pool API is plain JSON over HTTPS (X-Amz-Target); these few typed calls are all the app needs,
// so no SDK is shipped (Amplify's auth alone is larger than this whole app).
import type { AppConfig } from "./config";

export interface AuthTokens {
  IdToken: string;
  AccessToken: string;
  RefreshToken?: string;
  ExpiresIn: number;
}

export class CognitoError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

async function call<T>(config: AppConfig, action: string, body: Record<string, unknown>): Promise<T> {
  let response: Response;
  try {
    response = await fetch(config.cognitoEndpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new CognitoError("NetworkError", "network");
  }
  const text = await response.text();
  const data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!response.ok) {
    const type = String(data.__type ?? response.headers.get("x-amzn-errortype") ?? "UnknownError");
    throw new CognitoError(type.split("#").pop()!.split(":")[0], String(data.message ?? data.Message ?? type));
  }
  return data as T;
}

export async function signIn(config: AppConfig, email: string, password: string): Promise<AuthTokens> {
  // USER_PASSWORD_AUTH: the flow that runs the user-migration trigger, so a legacy user's old password works.
  const result = await call<{ AuthenticationResult?: AuthTokens; ChallengeName?: string }>(
    config, "InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH", ClientId: config.userPoolClientId,
      AuthParameters: { USERNAME: email, PASSWORD: password },
    });
  if (!result.AuthenticationResult) throw new CognitoError(result.ChallengeName ?? "Challenge", "challenge");
  return result.AuthenticationResult;
}

export async function refresh(config: AppConfig, refreshToken: string): Promise<AuthTokens> {
  const result = await call<{ AuthenticationResult: AuthTokens }>(config, "InitiateAuth", {
    AuthFlow: "REFRESH_TOKEN_AUTH", ClientId: config.userPoolClientId,
    AuthParameters: { REFRESH_TOKEN: refreshToken },
  });
  return { ...result.AuthenticationResult, RefreshToken: result.AuthenticationResult.RefreshToken ?? refreshToken };
}

export const signUp = (config: AppConfig, email: string, password: string) =>
  call(config, "SignUp", {
    ClientId: config.userPoolClientId, Username: email, Password: password,
    UserAttributes: [{ Name: "email", Value: email }],
  });

export const confirmSignUp = (config: AppConfig, email: string, code: string) =>
  call(config, "ConfirmSignUp", { ClientId: config.userPoolClientId, Username: email, ConfirmationCode: code });

export const resendCode = (config: AppConfig, email: string) =>
  call(config, "ResendConfirmationCode", { ClientId: config.userPoolClientId, Username: email });

export const forgotPassword = (config: AppConfig, email: string) =>
  call(config, "ForgotPassword", { ClientId: config.userPoolClientId, Username: email });

export const confirmForgotPassword = (config: AppConfig, email: string, code: string, password: string) =>
  call(config, "ConfirmForgotPassword", {
    ClientId: config.userPoolClientId, Username: email, ConfirmationCode: code, Password: password,
  });

export const globalSignOut = (config: AppConfig, accessToken: string) =>
  call(config, "GlobalSignOut", { AccessToken: accessToken });
