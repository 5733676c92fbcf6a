import type { Location } from "./api";

/** The browser's position if the user allows it (rounded to ~100 m: the weather needs no more). */
export function currentLocation(timeoutMs = 8000): Promise<Location> {
  return new Promise((resolve, reject) => {
    if (!("geolocation" in navigator)) return reject(new Error("no geolocation"));
    navigator.geolocation.getCurrentPosition(
      (position) => resolve({
        lat: Math.round(position.coords.latitude * 1000) / 1000,
        lon: Math.round(position.coords.longitude * 1000) / 1000,
      }),
      (error) => reject(new Error(error.message || `code ${error.code}`)),
      { timeout: timeoutMs, maximumAge: 600000 },
    );
  });
}
