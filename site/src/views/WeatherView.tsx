import { useState } from "preact/hooks";
import type { Weather } from "../api";
import type { Services } from "../app";
import { describe } from "../errors";
import { t } from "../i18n";
import { currentLocation } from "../location";

export function WeatherView({ services }: { services: Services }) {
  const [weather, setWeather] = useState<Weather | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function show() {
    setBusy(true);
    setError(null);
    try {
      let location;
      try {
        location = await currentLocation();
      } catch (caught) {
        setError(t("locationDenied", { detail: (caught as Error).message }));
        return;
      }
      setWeather(await services.api.weather(location));
    } catch (caught) {
      setError(describe(caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <h1>{t("weatherTitle")}</h1>
      <button type="button" disabled={busy} onClick={() => void show()}>{busy ? t("working") : t("locate")}</button>
      {error && <p role="alert" class="error">{error}</p>}
      {weather && (
        <div class="card weather-card" aria-live="polite">
          {weather.city && <h2>{weather.city}</h2>}
          <p class="big">{t("temperature", { value: Math.round(weather.temperature) })}</p>
          <p>{weather.description}</p>
          {weather.humidity != null && <p>{t("humidity", { value: weather.humidity })}</p>}
          {weather.windSpeed != null && <p>{t("wind", { value: weather.windSpeed })}</p>}
        </div>
      )}
    </section>
  );
}
