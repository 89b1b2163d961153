"""Every user's ``jupyter_server_config.py`` in tests/hub: the top-level README's
JupyterHub example, an authorizer that lets a user write and run through this
extension only with the custom scope for it (the Hub's side is in hub.py)."""

import os

from jupyterhub.singleuser.extension import JupyterHubAuthorizer

c = get_config()  # noqa: F821  (given to config files by traitlets)


class NagelfluhScopes(JupyterHubAuthorizer):
    """Reading as JupyterHub allows; nagelfluh writes and runs only with their scope."""

    def is_authorized(self, handler, user, action, resource):
        if not resource.startswith("nagelfluh:") or action == "read":
            return super().is_authorized(handler, user, action, resource)
        name = os.environ["JUPYTERHUB_USER"]
        wanted = {f"custom:nagelfluh:{action}:{resource}!user={name}"}
        return bool(self.hub_auth.check_scopes(wanted, user.hub_user))


c.ServerApp.authorizer_class = NagelfluhScopes
c.NagelfluhApp.authorizer_grants_admin = True  # the admin scope alone makes an admin
