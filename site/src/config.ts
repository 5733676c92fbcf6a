// Runtime settings of the stage this page is served by. The Pulumi program writes /config.json into the site
// bucket (Cache-Control: no-cache); local mode serves the same shape. Keys: functions/site_spec.py CONFIG_KEYS.
export interface AppConfig {
  stage: string;
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  cognitoEndpoint: string; // https://cognito-idp.<region>.amazonaws.com/ on AWS
  apiBase: string; // "/api/v1": same origin, through CloudFront
  websocketUrl: string; // wss://<api>.execute-api.<region>.amazonaws.com/<stage>
}

const KEYS: (keyof AppConfig)[] = [
  "stage", "region", "userPoolId", "userPoolClientId", "cognitoEndpoint", "apiBase", "websocketUrl",
];

export async function loadConfig(): Promise<AppConfig> {
  const response = await fetch("/config.json", { cache: "no-cache" });
  if (!response.ok) throw new Error(`/config.json: HTTP ${response.status}`);
  const data = (await response.json()) as Record<string, unknown>;
  const missing = KEYS.filter((key) => typeof data[key] !== "string" || !data[key]);
  if (missing.length) throw new Error(`/config.json lacks ${missing.join(", ")}`);
  return data as unknown as AppConfig;
}
