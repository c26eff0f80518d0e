"""What each region's stack holds: the network, the load balancer and the ECS Fargate service, the database and
its users, the domain, the web firewall, the notifications and deployment alarms, and deletion protection.
"""
