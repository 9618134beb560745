// Adding a contact: its profile fields are those of the list chosen, so
// choosing another list reloads the page with that list's fields, keeping
// what was typed in the address fields. (Without this script the form says
// so when saved, and shows the new list's fields.)
"use strict";

document.addEventListener("DOMContentLoaded", () => {
    const select = document.getElementById("id_list");
    if (!select) {
        return;
    }
    select.addEventListener("change", () => {
        const params = new URLSearchParams(window.location.search);
        params.set("list", select.value);
        for (const name of ["email", "external_contact_id"]) {
            const input = document.getElementById(`id_${name}`);
            if (input && input.value) {
                params.set(name, input.value);
            }
        }
        window.location.search = params.toString();
    });
});
