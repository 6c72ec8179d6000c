// The emergency button calls the city's emergency number (a plain tel: link, which works
// without this script); this adds the phone's position on screen, to read out to the
// dispatcher once the call is answered.
const button = document.querySelector("[data-emergency]");
const shown = document.getElementById("emergency-location");

if (button && shown && "geolocation" in navigator) {
  button.addEventListener("click", () => {
    shown.parentElement.hidden = false;
    shown.textContent = shown.dataset.finding || "…";
    navigator.geolocation.getCurrentPosition(
      (where) => {
        const { latitude, longitude, accuracy } = where.coords;
        shown.textContent = `${latitude.toFixed(5)}, ${longitude.toFixed(5)} (± ${Math.round(accuracy)} m)`;
      },
      () => { shown.textContent = shown.dataset.unknown || ""; },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  });
}
