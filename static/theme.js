// theme.js runs before first paint (loaded without defer) so a stored theme
// choice never flashes the other theme. Kept tiny on purpose.
(function () {
  try {
    var t = localStorage.getItem("mf-theme");
    if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
  } catch (e) { /* storage disabled: follow the system theme */ }
  document.documentElement.classList.add("js");
})();
