"""The cluster backend: versions run as Kubernetes Jobs queued by Kueue (DESIGN §3).

Everything the server needs of a cluster is here, apart from the executor
interface and the execution contract, which it shares with the local executor
(``nagelfluh_lab.executors.base``, ``nagelfluh_lab.executors.contract``):

- ``executor``: ``KubernetesExecutor``, a Job per version, followed to its end;
- ``watch``: informers, local copies of the runs' Jobs, Pods and Kueue Workloads;
- ``logs``: following one pod's log into the run's log lines;
- ``schema``: ``KubernetesSchemaExtractor``, environments registered from images;
- ``manifests``: the objects of one run and of a schema Job (pure functions);
- ``api``: the client, its errors, streamed GETs, reading the objects it answers;
- ``setup``: the namespace, queues and RBAC an admin applies once;
- ``cli``: ``nagelfluh-lab k8s manifests``, which prints that set-up;
- ``moved``: the old import paths of these modules, aliases for one release.

Importing this package (or ``setup``) does not import the ``kubernetes`` client,
which takes a second: servers that run locally never do.
"""
