// Part of the spawn form (swarmhub.hub.environments). A class logging in at once can
// fill the hub's places for starting servers (concurrent_spawn_limit): the hub then
// shows this form again with "Try again in N seconds", whether the start came from
// the form or from a link. Rather than leave the student to press Start again, the
// form puts back the choices made and asks again by itself after that wait. The
// choices are kept in sessionStorage, for this tab alone.
(function () {
  var form = document.getElementById("swarmhub-environment").form;
  var key = "swarmhub-spawn:" + window.location.pathname;
  form.addEventListener("submit", function () {
    var chosen = {};
    new FormData(form).forEach(function (value, name) {
      if (name !== "_xsrf") { chosen[name] = value; }
    });
    window.sessionStorage.setItem(key, JSON.stringify(chosen));
  });
  var error = document.querySelector(".spawn-error-msg");
  var said = error ? error.textContent : "";
  var wait = said.match(/Try again in (\d+) (second|minute)/);
  var seconds = wait ? parseInt(wait[1], 10) * (wait[2] === "minute" ? 60 : 1)
    : (/Try again in a few minutes/.test(said) ? 120 : null);
  if (seconds === null) { return; }
  // a link that starts a server names its choices (?opt-environment=NAME); the hub
  // answers it with this form too
  var chosen = {};
  new URLSearchParams(window.location.search).forEach(function (value, name) {
    if (name.indexOf("opt-") === 0) { chosen[name.slice(4)] = value; }
  });
  if (Object.keys(chosen).length === 0) {
    chosen = JSON.parse(window.sessionStorage.getItem(key) || "{}");
  }
  Object.keys(chosen).forEach(function (name) {
    var field = form.elements.namedItem(name);
    if (field) { field.value = chosen[name]; }
  });
  var note = document.createElement("p");
  note.id = "spawn-retry";
  note.className = "alert alert-info";
  note.dataset.seconds = String(seconds);
  form.insertBefore(note, form.firstChild);
  var tick = function () {
    if (seconds <= 0) {
      note.textContent = "Asking again\u2026";
      form.requestSubmit();
      return;
    }
    note.textContent = "Keep this page open: it asks again by itself in " + seconds
      + " seconds, with the choices below.";
    seconds -= 1;
    window.setTimeout(tick, 1000);
  };
  tick();
})();
