"""Root program: the stack is described entirely by helm-enterprise:* stack config."""

from helm_enterprise.program import main

main()
