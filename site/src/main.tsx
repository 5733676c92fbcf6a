import { render } from "preact";
import { App } from "./app";
import { loadConfig } from "./config";
import { t } from "./i18n";
import "./styles.css";

const root = document.getElementById("app")!;
loadConfig().then(
  (config) => render(<App config={config} />, root),
  (error: Error) => render(<p role="alert" class="error">{t("errConfig", { detail: error.message })}</p>, root),
);
