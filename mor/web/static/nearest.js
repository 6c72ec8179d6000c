// "Nearest to me": asks the phone for its position and lists the centres nearest first.
// Without this script (or a position) the district list still works.
const button = document.querySelector("[data-nearest]");
if (button && "geolocation" in navigator) {
  button.hidden = false;
  button.addEventListener("click", () => {
    navigator.geolocation.getCurrentPosition((where) => {
      const { latitude, longitude } = where.coords;
      window.location.search = `?near=${latitude.toFixed(4)},${longitude.toFixed(4)}`;
    });
  });
}
