import type { Image } from "../api";
import { formatDate, t } from "../i18n";

export function WeatherLine({ weather }: { weather: NonNullable<Image["weather"]> }) {
  return (
    <span>
      {weather.city ? `${weather.city} · ` : ""}{weather.description} · {t("temperature", { value: Math.round(weather.temperature) })}
    </span>
  );
}

export function ImageDetails({ image }: { image: Image }) {
  const source = image.imageUrl ?? image.thumbnailUrl;
  return (
    <div class="details">
      {source && <img src={source} alt={image.prompt ?? image.transcription ?? ""} width={image.width} height={image.height} />}
      <dl>
        {image.transcription && <><dt>{t("transcription")}</dt><dd class="transcription">{image.transcription}</dd></>}
        {image.weather && <><dt>{t("weather")}</dt><dd class="weather"><WeatherLine weather={image.weather} /></dd></>}
        {image.prompt && <><dt>{t("prompt")}</dt><dd class="small">{image.prompt}</dd></>}
        <dt class="sr-only">{t("created", { date: "" })}</dt>
        <dd class="muted small">{t("created", { date: formatDate(image.createdAt) })}</dd>
      </dl>
    </div>
  );
}
