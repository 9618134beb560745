/* placeholder */ (function (config) {})({{ config }});
